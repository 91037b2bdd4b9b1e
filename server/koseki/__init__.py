"""戸籍 and 戸籍の附票: the 戸籍 servers municipalities declare, and 本籍地 利用登録."""
