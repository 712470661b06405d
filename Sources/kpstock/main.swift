print("kpstock")
