"""The privacy attacks: differencing through every output channel (see ``attacks.py``)."""
