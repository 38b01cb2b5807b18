"""Records out of Quanxue: enrolment changes (学籍变动), the three ledgers, rates, and the reports built on them."""
