/** Property tests of the customers models on random CRMs: see models/properties.shared.ts. */
import { describeProperties } from './properties.shared';

describeProperties('customers');
