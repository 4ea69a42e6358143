# expect: refused super
s = super()
