"""The log pipeline under hostile input: never raises, one JSON line, caps, own fields, set-up."""
