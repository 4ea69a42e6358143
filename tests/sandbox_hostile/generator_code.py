# expect: refused gi_code
def g():
    yield 1
it = g()
code = it.gi_code
