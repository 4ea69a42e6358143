# expect: refused gi_frame
gen = (x for x in [1, 2, 3])
frame = gen.gi_frame
