# expect: stopped recursion too deep
def f(n):
    return f(n + 1)
f(0)
