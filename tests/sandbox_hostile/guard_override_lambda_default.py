# expect: refused
f = lambda _getiter_=iter: _getiter_
