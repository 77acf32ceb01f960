"""The Yoto MQTT side: the protocol (topics, payloads, parsing, merged state),
a paho transport, commands with acknowledgement and the long-lived listener.
See docs/mqtt.md."""
