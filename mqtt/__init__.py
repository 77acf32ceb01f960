"""The Yoto MQTT side: protocol conventions now, the always-on handler (ECS
Fargate Spot) in the live-players milestone."""
