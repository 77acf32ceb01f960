"""The API's HTTP plumbing: middleware (CSRF, security headers, body and
upload limits, the client's address), the error answers (the domain-error
table, error bodies and their OpenAPI schemas, the request-context 500),
streamed multipart parsing and the JSON logs with their redaction."""
