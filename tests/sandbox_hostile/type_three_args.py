# expect: refused type
T = type("T", (), {})
