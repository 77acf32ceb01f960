"""Local implementations: SQLite (SQLAlchemy), files, gTTS/espeak-ng, argon2."""
