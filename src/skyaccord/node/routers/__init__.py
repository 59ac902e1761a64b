"""One FastAPI router per resource of the node's API."""
