"""End-to-end tests: each needs a socket or a process (a real runapi server on 127.0.0.1, local stand-ins for
upstreams, callback receivers and input hosts, PostgreSQL/Redis, or the `runapi` command as a user runs it), or
renders media end to end for seconds of CPU (the Suno golden outputs, the longest ElevenLabs dialogue)."""
