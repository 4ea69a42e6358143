# expect: refused memoryview
m = memoryview(b"abc")
