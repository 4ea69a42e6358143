# expect: ok
result.note(repr(where))
