FROM a b
