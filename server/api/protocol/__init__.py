"""The wire contract: every request and response shape of the API as a pydantic model.

One source per shape: routes validate requests with these models, payload builders construct
responses from them, the streaming encoders derive their byte templates from them
(`server/api/encode.py`), and `/openapi.json` describes them, so clients can generate types.
"""
