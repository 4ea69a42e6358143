# expect: stopped CPU time limit
x = 0
while True:
    try:
        while True:
            x += 1
    except Exception:
        x = 0
