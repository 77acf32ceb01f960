"""The Yoto vocabulary, pure: the cloud's values and its port (`cloud`), MQTT
topics and limits (`protocol`), command payloads (`payloads`), what players send
(`messages`), a player's merged state (`state`) and a command's result (`results`).
No network, no paho, no httpx: the adapters under `adapters/yoto/` speak the wire.
"""
