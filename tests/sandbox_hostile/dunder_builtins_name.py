# expect: refused
__builtins__["open"] = None
