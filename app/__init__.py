"""yoto-smart-stream: the FastAPI app (local uvicorn or AWS Lambda)."""
