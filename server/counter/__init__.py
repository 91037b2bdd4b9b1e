"""Counter terminals (らくらく窓口): reception numbers, the 受付票, and the clerk's hand-over."""
