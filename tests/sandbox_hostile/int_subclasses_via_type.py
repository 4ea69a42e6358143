# expect: stopped not allowed
c = (1).real.numerator
d = int.from_bytes
