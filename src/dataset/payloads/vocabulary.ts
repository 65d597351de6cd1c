/** Word and field tables the structured generators draw from (ASCII only: one byte per char). */

export const WORDS = (
  'the of and to in is was that for it with as his on be at by had are but from or have an they which one you were her all she there ' +
  'would their we him been has when who will more no if out so said what up its about into than them can only other new some could ' +
  'time these two may then do first any my now such like our over man me even most made after also did many before must through back ' +
  'years where much your way well down should because each just those people how too little state good very make world still own see ' +
  'men work long get here between both life being under never day same another know while last might us great old year off come since ' +
  'against go came right used take three states himself few house use during without again place american around however home small ' +
  'found thought went say part once general high upon school every does got united left number course war until always away something ' +
  'fact though water less public put think almost hand enough far took head yet government system better set told nothing night end why ' +
  'called eyes find going look asked later knew point next program city business give group toward young days let room president side ' +
  'social given present several order national possible rather second face per among form important often things looked early white case ' +
  'john become large big need four within felt along children saw best church ever least power development light thing family interest ' +
  'want members mind country area others done turned although open problem river harbor storage engine record ledger garden window mountain'
).split(' ');

export const FIRST_NAMES = (
  'james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan joseph jessica thomas sarah ' +
  'charles karen christopher lisa daniel nancy matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily ' +
  'andrew donna joshua michelle kenneth carol kevin amanda brian dorothy george melissa timothy deborah lena jonas mia lukas sofia'
).split(' ');

export const LAST_NAMES = (
  'smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson anderson thomas taylor ' +
  'moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright scott ' +
  'torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts mueller schmidt schneider fischer'
).split(' ');

export const CITIES: readonly (readonly [string, string])[] = [
  ['Berlin', 'DE'],
  ['Hamburg', 'DE'],
  ['Munich', 'DE'],
  ['Paris', 'FR'],
  ['Lyon', 'FR'],
  ['Madrid', 'ES'],
  ['Barcelona', 'ES'],
  ['Rome', 'IT'],
  ['Milan', 'IT'],
  ['Vienna', 'AT'],
  ['Zurich', 'CH'],
  ['Amsterdam', 'NL'],
  ['Brussels', 'BE'],
  ['Warsaw', 'PL'],
  ['Prague', 'CZ'],
  ['Stockholm', 'SE'],
  ['Oslo', 'NO'],
  ['Copenhagen', 'DK'],
  ['Dublin', 'IE'],
  ['London', 'GB'],
  ['New York', 'US'],
  ['Chicago', 'US'],
  ['Austin', 'US'],
  ['Toronto', 'CA'],
  ['Sydney', 'AU'],
  ['Tokyo', 'JP'],
  ['Seoul', 'KR'],
  ['Lisbon', 'PT'],
];

export const STREETS =
  'Main Street|Oak Avenue|Station Road|Church Lane|Park Road|High Street|Mill Lane|Garden Way|Lake View|River Road'.split(
    '|',
  );

/** Counterparties of bank transactions with the category their bookings fall under. */
export const MERCHANTS: readonly (readonly [string, string])[] = [
  ['Rewe', 'groceries'],
  ['Edeka', 'groceries'],
  ['Lidl', 'groceries'],
  ['Aldi', 'groceries'],
  ['Amazon', 'shopping'],
  ['Zalando', 'shopping'],
  ['Deutsche Bahn', 'travel'],
  ['Lufthansa', 'travel'],
  ['Shell', 'fuel'],
  ['Aral', 'fuel'],
  ['Netflix', 'subscriptions'],
  ['Spotify', 'subscriptions'],
  ['Apple', 'electronics'],
  ['Ikea', 'household'],
  ['MediaMarkt', 'electronics'],
  ['Saturn', 'electronics'],
  ['DM Drogerie', 'household'],
  ['Rossmann', 'household'],
  ['Starbucks', 'dining'],
  ['McDonalds', 'dining'],
  ['Vodafone', 'utilities'],
  ['Telekom', 'utilities'],
  ['Stadtwerke', 'utilities'],
  ['Allianz', 'insurance'],
  ['Miete Hausverwaltung', 'rent'],
  ['Apotheke am Markt', 'health'],
  ['Baeckerei Schmidt', 'dining'],
  ['Uber', 'transport'],
  ['Airbnb', 'travel'],
];

/** Who pays money in (salary, refunds, transfers) and its category. */
export const PAYERS: readonly (readonly [string, string])[] = [
  ['Gehalt Muster GmbH', 'salary'],
  ['Finanzamt Erstattung', 'refund'],
  ['Dauerauftrag Sparkonto', 'transfer'],
  ['PayPal Europe', 'transfer'],
];

export const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'GBP', 'CHF'];

export const ORDER_STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'returned', 'cancelled'];

export const TAGS = 'new|vip|newsletter|beta|mobile|desktop|returning|trial|premium|partner'.split('|');

export const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.de'];
