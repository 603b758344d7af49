"""`/v1/chat/completions`: translation in (`translate`), the wire out (`wire`), the route."""
