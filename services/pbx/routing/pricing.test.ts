import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PhoneNumber } from '../../store/types.js';
import { formatEuros, priceNumbers } from './pricing.js';

const at = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
const num = (number: string, destination: PhoneNumber['destination'], i: number): PhoneNumber => ({ number, destination, createdAt: at(i), updatedAt: at(i) });

test('first number of each user included, each additional 9.95 €, main number included, others additional', () => {
  const numbers = [
    num('+525512345670', { kind: 'receptionist', name: 'main' }, 0),
    num('+525512345678', { kind: 'extension', number: '101' }, 1),
    num('+525512345679', { kind: 'extension', number: '101' }, 2),
    num('+525512345681', { kind: 'extension', number: '102' }, 3),
    num('+525512345690', { kind: 'ring-group', name: 'sales' }, 4),
  ];
  // 102's direct number is its second number in time: the direct number is the included one.
  const routing = [
    { extension: '101', directNumber: null, international: false },
    { extension: '102', directNumber: '+525512345681', international: false },
  ];
  const bill = priceNumbers(numbers, routing, '+525512345670');
  assert.deepEqual(
    bill.numbers.map((n) => [n.number, n.user, n.monthlyCents, n.reason]),
    [
      ['+525512345670', null, 0, 'included: main number'],
      ['+525512345678', '101', 0, 'included: first number of user'],
      ['+525512345679', '101', 995, 'additional number'],
      ['+525512345681', '102', 0, 'included: first number of user'],
      ['+525512345690', null, 995, 'additional number'],
    ],
  );
  assert.equal(bill.monthlyCents, 1990);
  assert.equal(formatEuros(bill.monthlyCents), '19.90 €');
  assert.equal(bill.vatIncluded, true);
});

test('a user\'s direct number is included even when an older number also rings the user', () => {
  const numbers = [num('+12125550100', { kind: 'extension', number: '101' }, 0), num('+12125550101', { kind: 'extension', number: '101' }, 1)];
  const bill = priceNumbers(numbers, [{ extension: '101', directNumber: '+12125550101', international: false }], null);
  assert.deepEqual(bill.numbers.map((n) => n.monthlyCents), [995, 0]);
  assert.equal(priceNumbers([], [], null).monthlyCents, 0);
});
