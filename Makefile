.PHONY: demo test test-fast
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
# The fast tier (under a minute, no install): fake models, a real broker, sockets and hub; see tests/conftest.py.
test-fast:
	.venv/bin/python -m pytest -p no:cacheprovider -q -m "not models and not peers and not slow"
