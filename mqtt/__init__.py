"""The MQTT entrypoint: the listener process (`python -m mqtt`, the ECS task),
its on-demand Lambda handler (`mqtt.lambda_handler`) and its image (Dockerfile).
The listener itself is `adapters/yoto/mqtt/`, its loop `services.listener_runner`."""
