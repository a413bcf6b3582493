"""OpenAI Responses: the /v1/responses surface (request parsing, response objects, the event stream) and the
stored responses that `previous_response_id` continues. Served upstream through the canonical chat request."""
