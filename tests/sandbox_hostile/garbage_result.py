# expect: stopped refused
result.set_values("not a series")
