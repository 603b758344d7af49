"""`/v1/responses` (stateless): translation in, the wire out, the route."""
