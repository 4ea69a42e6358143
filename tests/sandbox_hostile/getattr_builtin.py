# expect: refused getattr
getattr(data, "_array")
