"""What the tests share and are not tests themselves: the test server and its client helpers (servers), PostgreSQL
and Redis for the tests (services), fake upstreams (fake_openai, fake_anthropic, fake_gemini, fake_media with the
fal contract), slow peers (drip), multi-process clusters (processes) and the Suno golden runner."""
