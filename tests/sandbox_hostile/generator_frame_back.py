# expect: refused f_back
def g():
    yield 1
it = g()
back = it.gi_frame.f_back
