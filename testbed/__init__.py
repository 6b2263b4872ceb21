"""Real peers and recorded speech for the tests, the benchmarks and the demo.

A real Mosquitto (``broker``), a real Home Assistant (``ha_peer``), an OpenAI-compatible LLM server
(``llm_server``), MQTT devices that publish Home Assistant discovery (``mqtt_test_devices``), a simulated
satellite speaking real Wyoming (``simsat``) and speech in several voices, clean and in noise
(``audio_fixtures``, ``speech_corpus``). The rigs the tests and the benchmarks share: the real hub in this
process driving simulated satellites (``hub_rig``), real hub processes with leases (``hub_processes``), the soak
loop (``soak_rig``) and the ``--config`` files they and the demo write (``toml_config``). Nothing here ships
with the hub or the satellite (``tests/test_architecture.py`` checks that nothing shipped imports it).
"""
