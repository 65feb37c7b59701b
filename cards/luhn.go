package cards

// LuhnValid reports whether number is all ASCII digits (at least two) and passes the
// Luhn check of ISO/IEC 7812-1.
func LuhnValid(number string) bool {
	if len(number) < 2 || !allDigits(number) {
		return false
	}
	return luhnSum(number)%10 == 0
}

// luhnCheckDigit is the digit that, appended to payload, makes it Luhn-valid. payload
// must be all digits.
func luhnCheckDigit(payload string) byte {
	// Appending a digit shifts every doubling position by one, so compute the sum as if
	// a zero check digit were already there.
	sum := luhnSum(payload + "0")
	return byte('0' + (10-sum%10)%10)
}

// luhnSum doubles every second digit from the right, starting with the one left of the
// last digit.
func luhnSum(digits string) int {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
