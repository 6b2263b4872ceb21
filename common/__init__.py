"""Runtime pieces the hub and the satellite share: settings parsing, the MQTT link,
model locations, logging and task supervision. Nothing here defines the wire; that is
``protocol``'s job."""
