"""The Responses API's translation, without a server: input items to chat messages (calls joined, outputs
mapped), request options, and the order of stream events. The API over HTTP is in tests/e2e/test_llm_responses.py."""

from runapi.llm.canonical import Delta, ToolCall
from runapi.llm.openai_responses.surface import (
    EventStream,
    items_to_messages,
    parse_request,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
}


def test_items_to_messages_joins_calls_and_maps_outputs():
    msgs = items_to_messages(
        [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [{"type": "output_text", "text": "let me check", "annotations": []}],
            },
            {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "b", "arguments": '{"x": 1}'},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
        ]
    )
    assert msgs == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": "let me check",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": '{"x": 1}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
    ]


def test_parse_request_translates_options():
    req = parse_request(
        {
            "model": "gpt-5.4",
            "input": "x",
            "instructions": "sys",
            "max_output_tokens": 99,
            "reasoning": {"effort": "high", "summary": "auto"},
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "parallel_tool_calls": False,
            "top_p": 0.9,
        }
    )
    chat = req.chat_request([{"role": "user", "content": "before"}, {"role": "assistant", "content": "ok"}])
    assert chat.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "before"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "x"},
    ]
    assert chat.max_tokens == 99 and chat.reasoning_effort == "high"
    assert chat.tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    assert chat.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    assert chat.response_format == {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    assert chat.extra == {"top_p": 0.9, "parallel_tool_calls": False}
    web = parse_request({"model": "m", "input": "x", "tools": [{"type": "web_search", "search_context_size": "low"}]})
    assert web.chat_request().tools is None and web.chat_request().extra["web_search_options"] == {
        "search_context_size": "low"
    }


def test_event_stream_orders_items():
    es = EventStream({"id": "resp_1"})
    events = es.start()
    events += es.feed(Delta(text="Checking. "))
    events += es.feed(Delta(tool_call=ToolCall("c1", "a", ""), tool_index=0))
    events += es.feed(Delta(tool_call=ToolCall("c1", "a", "{}"), tool_index=0))
    events += es.feed(Delta(tool_call=ToolCall("c2", "b", '{"x"'), tool_index=1))
    events += es.feed(Delta(tool_call=ToolCall("c2", "b", ": 1}"), tool_index=1))
    events += es.finish("tool_calls")
    events.append(es.done({"id": "resp_1", "status": "completed"}))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [(i["type"], i.get("arguments")) for i in es.output] == [
        ("message", None),
        ("function_call", "{}"),
        ("function_call", '{"x": 1}'),
    ]
    assert es.output[0]["content"][0]["text"] == "Checking. "
