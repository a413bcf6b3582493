"""Prices as clients read them: price schedules and quotes, computed by the same functions a create uses. Above
billing, tasks and llm (it reads all three), so none of them imports it."""
