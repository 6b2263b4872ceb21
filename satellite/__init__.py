"""The satellite: a Wyoming server in each room with wake word, VAD, echo cancellation and barge-in."""
