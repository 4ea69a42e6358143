# expect: refused import is not allowed
import os
os.system("echo pwned")
