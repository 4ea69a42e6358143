# expect: refused
def f(_getattr_=None, /):
    return _getattr_
