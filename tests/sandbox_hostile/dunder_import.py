# expect: refused
os = __import__("os")
