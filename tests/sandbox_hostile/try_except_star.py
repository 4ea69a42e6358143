# expect: refused try/except*
try:
    pass
except* ValueError:
    pass
