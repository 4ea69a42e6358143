# expect: refused open
open("/etc/passwd").read()
