"""Home control: the devices of the house, whoever serves them (Home Assistant, MQTT discovery devices).

``model`` is the contract: entities, states, actions and the :class:`~hub.home.model.HomeBackend`
port that each way of reaching devices implements.
"""
