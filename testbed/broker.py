"""The test broker is the same throwaway Mosquitto the demo uses (see common/local_broker.py)."""

from common.local_broker import DEFAULT_DEVICES, REPO, MosquittoBroker, free_port

__all__ = ["DEFAULT_DEVICES", "REPO", "MosquittoBroker", "free_port"]
