"""Yoto's MQTT broker over paho: the connection (`transport`), commands and their
answers (`acks`), how the API publishes one (`sender`) and the long-lived
listener that keeps every linked account's players in the records (`listener`).
"""
