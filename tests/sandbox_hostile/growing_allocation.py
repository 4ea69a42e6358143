# expect: stopped memory limit
chunks = []
while True:
    chunks.append("y" * 10_000_000)
